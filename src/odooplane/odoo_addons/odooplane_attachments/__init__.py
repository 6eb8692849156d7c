"""Odooplane attachments in object storage (server-wide module, Odoo 16 to 19).

Load it with ``server_wide_modules = base,web,odooplane_attachments`` and, in odoo.conf:

    odooplane_s3_endpoint = https://s3.example.com
    odooplane_s3_bucket = odoo-attachments
    odooplane_s3_prefix = ESTATE/TENANT/ENV/
    odooplane_s3_region = us-east-1
    odooplane_s3_access_key = …
    odooplane_s3_secret_key = …

Attachment contents stored in the filestore are then written to ``<prefix><database>/<xx>/<sha1>``
in the bucket and read from there (a file written to the local filestore before the module was
loaded is still read from it), so web replicas need no shared volume. Names are content addresses
(Odoo's own ``store_fname``): identical contents share one object, as they share one file.
Objects are never deleted by Odoo's filestore garbage collection (a bucket lifecycle rule does that
if wanted): only its local files are. Without the options the module changes nothing.
"""

import functools
import logging
import os

from odoo import http
from odoo.addons.base.models.ir_attachment import IrAttachment
from odoo.tools import config

from . import s3

_logger = logging.getLogger(__name__)
_CLIENT = []


def _client():
    if not _CLIENT:
        endpoint, bucket = config.get("odooplane_s3_endpoint"), config.get("odooplane_s3_bucket")
        if not endpoint or not bucket:
            _CLIENT.append(None)
        else:
            _CLIENT.append(s3.S3(str(endpoint), str(bucket), access_key=str(config.get("odooplane_s3_access_key")),
                                 secret_key=str(config.get("odooplane_s3_secret_key")),
                                 region=str(config.get("odooplane_s3_region") or "us-east-1")))
            _logger.info("attachments are stored in bucket %s at %s", bucket, endpoint)
    return _CLIENT[0]


def _key(records, fname):
    return f"{config.get('odooplane_s3_prefix') or ''}{records.env.cr.dbname}/{fname}"


# A server-wide module is imported by every process but installed in no database, so its models
# would never join a registry: the storage methods of ir.attachment's base class are wrapped here
# instead (every database's registry class inherits them; decorators are kept by functools.wraps).
_original_write = IrAttachment._file_write
_original_read = IrAttachment._file_read


@functools.wraps(_original_write)
def _file_write(self, bin_value, checksum):
    client = _client()
    if client is None:
        return _original_write(self, bin_value, checksum)
    fname = f"{checksum[:2]}/{checksum}"
    key = _key(self, fname)
    if not client.exists(key):
        client.put(key, bin_value)
    return fname


@functools.wraps(_original_read)
def _file_read(self, fname, *args, **kwargs):
    client = _client()
    if client is not None:
        data = client.get(_key(self, fname))
        if data is not None:
            return data
    return _original_read(self, fname, *args, **kwargs)


IrAttachment._file_write = _file_write
IrAttachment._file_read = _file_read


# Odoo serves a stored attachment (/web/content, /web/image, asset bundles) from its path in the
# filestore, without _file_read (ir.attachment._to_http_stream on 17+, Stream.from_attachment on 16):
# when the file is not there, serve the content read from the bucket.
def _bucket_stream(stream_class, attachment):
    """A Stream of ``attachment``'s content from the bucket, or None when it is a local file."""
    if _client() is None or not attachment.store_fname:
        return None
    if os.path.exists(os.path.join(config.filestore(attachment.env.cr.dbname), attachment.store_fname)):
        return None
    data = attachment.raw or b""
    return stream_class(type="data", data=data, size=len(data), mimetype=attachment.mimetype,
                        download_name=attachment.name, etag=attachment.checksum, public=attachment.public,
                        last_modified=attachment.write_date)


if hasattr(IrAttachment, "_to_http_stream"):  # Odoo 17 and later
    _original_to_http_stream = IrAttachment._to_http_stream

    @functools.wraps(_original_to_http_stream)
    def _to_http_stream(self):
        self.ensure_one()
        return _bucket_stream(http.Stream, self) or _original_to_http_stream(self)

    IrAttachment._to_http_stream = _to_http_stream
elif callable(getattr(http.Stream, "from_attachment", None)):  # Odoo 16
    _original_from_attachment = http.Stream.from_attachment.__func__

    def _from_attachment(cls, attachment):
        return _bucket_stream(cls, attachment) or _original_from_attachment(cls, attachment)

    http.Stream.from_attachment = classmethod(_from_attachment)
