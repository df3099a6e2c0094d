"""Local inputs for `monitor scan`: files and folders on disk, and Telegram Desktop exports."""

from monitor.sources.desktop_export import read_desktop_export
from monitor.sources.files import LocalItem, iter_local_items

__all__ = ["LocalItem", "iter_local_items", "read_desktop_export"]
