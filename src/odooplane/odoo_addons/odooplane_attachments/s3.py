"""A small S3 client (path-style requests signed with AWS Signature Version 4): what attachment
storage needs, with no dependency Odoo's images lack. Used by the odooplane_attachments addon and,
loaded from this file, by the simulator."""

import datetime
import hashlib
import hmac
import http.client
import urllib.parse


class S3Error(Exception):
    def __init__(self, status, message):
        super().__init__(f"S3 answered {status}: {message}")
        self.status = status


def _sign(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


class S3:
    def __init__(self, endpoint, bucket, *, access_key, secret_key, region="us-east-1", timeout=30.0):
        parsed = urllib.parse.urlsplit(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"S3 endpoint {endpoint!r} is not an http(s) URL")
        self.scheme = parsed.scheme
        self.host = parsed.netloc
        self.base = parsed.path.rstrip("/")
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.timeout = timeout

    def _request(self, method, key, body=b""):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        path = f"{self.base}/{urllib.parse.quote(self.bucket)}/{urllib.parse.quote(key, safe='/')}"
        payload = hashlib.sha256(body).hexdigest()
        headers = {"host": self.host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical = "\n".join([method, path, "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed,
                               payload])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key_bytes = _sign(_sign(_sign(_sign(("AWS4" + self.secret_key).encode(), day), self.region), "s3"),
                          "aws4_request")
        signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                                    f"SignedHeaders={signed}, Signature={signature}")
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, timeout=self.timeout)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, data
        finally:
            conn.close()

    def put(self, key, body):
        status, data = self._request("PUT", key, body)
        if status != 200:
            raise S3Error(status, data[:300].decode(errors="replace"))

    def get(self, key):
        """The object's bytes, or None when there is none."""
        status, data = self._request("GET", key)
        if status == 404:
            return None
        if status != 200:
            raise S3Error(status, data[:300].decode(errors="replace"))
        return data

    def exists(self, key):
        status, data = self._request("HEAD", key)
        if status in (200, 404):
            return status == 200
        raise S3Error(status, data[:300].decode(errors="replace"))

    def delete(self, key):
        status, data = self._request("DELETE", key)
        if status not in (200, 204, 404):
            raise S3Error(status, data[:300].decode(errors="replace"))
