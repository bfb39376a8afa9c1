"""What makes every vam command start faster: botocore's data files parsed once per botocore
version (vam/aws/botocache.py) and S3's ISO timestamps read without dateutil. Both must leave
botocore's behaviour exactly as it was."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import botocore.loaders
import botocore.session
import pytest
from botocore.utils import parse_timestamp as botocore_parse_timestamp

from vam.aws import botocache
from vam.aws.client import new_session, parse_timestamp


def _client(session):
    return session.create_client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")


def _model(client) -> dict:
    model = client.meta.service_model
    return {
        name: json.dumps(model.operation_model(name).input_shape.members.keys().__repr__())
        for name in model.operation_names
        if model.operation_model(name).input_shape is not None
    }


def test_cached_models_are_the_ones_botocore_parses(tmp_path, monkeypatch):
    monkeypatch.setenv("VAM_CACHE_DIR", str(tmp_path))
    plain = botocore.session.Session()
    plain.set_credentials("a", "b")
    expected = _model(_client(plain))

    first = _client(new_session(None, "us-east-1", access_key_id="a", secret_access_key="b"))
    folder = tmp_path / f"botocore-{botocore.__version__}-{botocache._FORMAT}"
    cached = sorted(p.name for p in folder.iterdir())
    assert "s3__2006-03-01__service-2.marshal" in cached
    assert "endpoints.marshal" in cached
    second = _client(new_session(None, "us-east-1", access_key_id="a", secret_access_key="b"))

    assert _model(first) == expected
    assert _model(second) == expected
    url = second.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    assert url.startswith("http://127.0.0.1:9/b/k?")


def test_a_damaged_cache_file_is_parsed_again_and_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("VAM_CACHE_DIR", str(tmp_path))
    _client(new_session(None, "us-east-1", access_key_id="a", secret_access_key="b"))
    folder = tmp_path / f"botocore-{botocore.__version__}-{botocache._FORMAT}"
    model_file = folder / "s3__2006-03-01__service-2.marshal"
    model_file.write_bytes(b"\x00garbage")
    (folder / "services-service-2.marshal").write_bytes(b"")

    client = _client(new_session(None, "us-east-1", access_key_id="a", secret_access_key="b"))

    assert "PutObject" in client.meta.service_model.operation_names
    assert model_file.stat().st_size > 100_000  # written again, whole


def test_an_unusable_cache_folder_changes_nothing(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("VAM_CACHE_DIR", str(blocker))
    client = _client(new_session(None, "us-east-1", access_key_id="a", secret_access_key="b"))
    assert "ListObjectsV2" in client.meta.service_model.operation_names
    assert blocker.read_text() == "a file where the cache folder would go"


def test_models_in_aws_data_path_are_read_the_ordinary_way(tmp_path, monkeypatch):
    """A custom model folder (AWS_DATA_PATH) is honoured and never cached."""
    cache = tmp_path / "cache"
    data = tmp_path / "models" / "s3" / "2006-03-01"
    data.mkdir(parents=True)
    builtin = botocore.session.Session().get_component("data_loader")
    model = builtin.load_service_model("s3", "service-2")
    model["metadata"]["serviceFullName"] = "Custom S3 model from AWS_DATA_PATH"
    (data / "service-2.json").write_text(json.dumps(model))
    monkeypatch.setenv("VAM_CACHE_DIR", str(cache))
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))

    client = _client(new_session(None, "us-east-1", access_key_id="a", secret_access_key="b"))

    assert (
        client.meta.service_model.metadata["serviceFullName"]
        == model["metadata"]["serviceFullName"]
    )
    folder = cache / f"botocore-{botocore.__version__}-{botocache._FORMAT}"
    assert not (folder / "s3__2006-03-01__service-2.marshal").exists()


def test_cache_root_follows_the_platform_conventions(monkeypatch, tmp_path):
    monkeypatch.delenv("VAM_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and botocache.sys.platform.startswith("linux"):
        assert botocache.cache_root() == tmp_path / "xdg" / "vam"
    monkeypatch.setenv("VAM_CACHE_DIR", str(tmp_path / "mine"))
    assert botocache.cache_root() == tmp_path / "mine"


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-24T02:10:00.000Z",
        "2026-11-24T02:10:00Z",
        "2026-11-24T02:10:00.123456+01:00",
        "Tue, 24 Nov 2026 02:10:00 GMT",
        1700000000,
        "1700000000",
    ],
)
def test_timestamps_read_as_botocore_reads_them(value):
    ours, theirs = parse_timestamp(value), botocore_parse_timestamp(value)
    assert ours == theirs
    assert ours.utcoffset() == theirs.utcoffset() or ours.tzinfo is UTC


def test_listing_times_are_aware_utc(s3, monkeypatch):
    """Through the wire: a listing's LastModified is an aware UTC datetime, as before, and it
    was read by vam's parser (the session is wired to it), not dateutil's."""
    from vam.aws import client as awsclient
    from vam.s3sync.remote import iter_objects

    seen: list[str] = []

    def counting(value):
        seen.append(value)
        return parse_timestamp(value)

    monkeypatch.setattr(awsclient, "parse_timestamp", counting)

    session = new_session(None, "us-east-1")
    client = session.create_client("s3", endpoint_url=s3.endpoint_url)
    client.create_bucket(Bucket="times")
    client.put_object(Bucket="times", Key="t/one", Body=b"x")
    (item,) = list(iter_objects(client, "times", "t/"))
    assert item["LastModified"].tzinfo is not None
    assert abs(item["LastModified"] - datetime.now(UTC)).total_seconds() < 600
    assert any(value[10:11] == "T" for value in seen)  # the listing's ISO time came through it


def test_a_warm_cache_is_read_instead_of_botocore_s_json(tmp_path, monkeypatch):
    """Once filled, creating a client parses none of botocore's built-in JSON files."""
    monkeypatch.setenv("VAM_CACHE_DIR", str(tmp_path))
    _client(new_session(None, "us-east-1", access_key_id="a", secret_access_key="b"))

    def no_json(self, full_path, open_method):
        raise AssertionError(f"parsed {full_path} although the cache holds it")

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "_load_file", no_json)
    client = _client(new_session(None, "us-east-1", access_key_id="a", secret_access_key="b"))
    assert "CompleteMultipartUpload" in client.meta.service_model.operation_names
