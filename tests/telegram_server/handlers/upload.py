"""upload.getFile: serve photo and document bytes in parts."""

from __future__ import annotations

from telethon.tl import functions, types

from ..errors import bad_request
from ..models import THUMB_SIZE
from . import RequestContext, handler

MAX_PART = 1024 * 1024


@handler(functions.upload.GetFileRequest)
def get_file(ctx: RequestContext, request: functions.upload.GetFileRequest) -> types.upload.File:
    ctx.require_user()
    location = request.location
    if isinstance(location, types.InputPhotoFileLocation):
        kind = "photo"
    elif isinstance(location, types.InputDocumentFileLocation):
        kind = "document"
    else:
        raise bad_request("LOCATION_INVALID")
    media = ctx.world.media_for(kind, location.id, location.access_hash, location.file_reference)
    data = media.data
    thumb = getattr(location, "thumb_size", "") if kind == "document" else ""
    if thumb:  # a document's thumbnail, not the document
        if media.thumb is None or thumb != THUMB_SIZE:
            raise bad_request("LOCATION_INVALID")
        data = media.thumb
    ctx.world.served.append((kind, media.id, thumb))
    if request.limit <= 0 or request.limit > MAX_PART or request.offset < 0:
        raise bad_request("LIMIT_INVALID")
    if request.offset > len(data):
        raise bad_request("OFFSET_INVALID")
    file_type: types.TypeFileType
    if kind == "photo" or thumb or media.mime_type == "image/jpeg":
        file_type = types.storage.FileJpeg()
    elif media.mime_type == "image/png":
        file_type = types.storage.FilePng()
    elif media.mime_type == "image/webp":
        file_type = types.storage.FileWebp()
    elif media.mime_type == "video/mp4":
        file_type = types.storage.FileMp4()
    else:
        file_type = types.storage.FileUnknown()
    return types.upload.File(
        type=file_type,
        mtime=int(media.date.timestamp()),
        bytes=data[request.offset : request.offset + request.limit],
    )
