"""Matching: hash validation, hash-list files, the search indexes and the Matcher."""

from monitor.matching.hashes import InvalidHash, normalize_hash, parse_hash_type
from monitor.matching.index import BinaryIndex, ExactIndex
from monitor.matching.lists import parse_hash_list, read_hash_list, write_hash_list
from monitor.matching.matcher import Matcher, MatcherStats

__all__ = [
    "BinaryIndex",
    "ExactIndex",
    "InvalidHash",
    "Matcher",
    "MatcherStats",
    "normalize_hash",
    "parse_hash_list",
    "parse_hash_type",
    "read_hash_list",
    "write_hash_list",
]
