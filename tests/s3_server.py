"""A throw-away S3-compatible server for the tests: moto's server on a free localhost port.

`s3_server` starts one per test process (``moto.server.ThreadedMotoServer``: a real HTTP
endpoint, so child processes and Dask workers reach it as they would AWS). It sets the
environment every S3 client reads (``AWS_ENDPOINT_URL`` and dummy credentials), so an
``s3://`` object store needs no other setting, here and in processes started afterwards;
each test asks it for a fresh bucket (`S3Server.new_store_url`). Where moto is not
installed the fixture skips with the reason (CI fails on skips: the test extra has it).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

#: What boto/botocore, s3fs and fsspec read: the endpoint and credentials of the server.
_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "astrid-tests",
    "AWS_SECRET_ACCESS_KEY": "astrid-tests",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class S3Server:
    """A running server: its endpoint."""

    endpoint: str

    def new_store_url(self) -> str:
        """An empty bucket; the ``s3://bucket/store`` URL of an object store in it."""
        import s3fs

        bucket = f"astrid-{uuid.uuid4().hex[:12]}"
        s3fs.S3FileSystem(endpoint_url=self.endpoint).mkdir(bucket)
        return f"s3://{bucket}/store"


def start_s3() -> str:
    """Start a server for the rest of this process (the S3 test mode); its endpoint, set in
    the environment as the fixture sets it."""
    import atexit
    import logging

    import fsspec
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    atexit.register(server.stop)
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update({**_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint})
    fsspec.config.conf.setdefault("s3", {})["endpoint_url"] = endpoint
    return endpoint


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    pytest.importorskip("s3fs", reason="s3fs is not installed")
    import fsspec

    port = _free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in (*_ENVIRONMENT, "AWS_ENDPOINT_URL")}
    os.environ.update({**_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint})
    # fsspec read its FSSPEC_* configuration at import; pass the endpoint explicitly too
    fsspec.config.conf.setdefault("s3", {})["endpoint_url"] = endpoint
    fsspec.filesystem("s3").clear_instance_cache()
    try:
        yield S3Server(endpoint)
    finally:
        fsspec.config.conf.get("s3", {}).pop("endpoint_url", None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
