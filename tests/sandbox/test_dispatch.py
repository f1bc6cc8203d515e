"""The sandbox's dispatcher sends each request to the service moto would, resolving each service once."""

from __future__ import annotations

import pytest
from moto.server import DomainDispatcherApplication, create_backend_app

from auditor.sandbox.dispatch import Dispatcher


def request(service: str | None, path: str = "/", region: str = "us-east-1") -> dict:
    """A WSGI environ as a SigV4-signed client sends it (unsigned when ``service`` is None)."""
    environ = {
        "PATH_INFO": path,
        "REQUEST_METHOD": "GET",
        "HTTP_HOST": "127.0.0.1:5000",
        "CONTENT_TYPE": "",
        "CONTENT_LENGTH": "0",
    }
    if service:
        scope = f"AKIDEXAMPLE/20261203/{region}/{service}/aws4_request"
        environ["HTTP_AUTHORIZATION"] = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=00"
    return environ


def backend(dispatcher: DomainDispatcherApplication, application) -> list[str]:
    return [name for name, app in dispatcher.app_instances.items() if app is application]


REQUESTS = [
    request("s3", "/trail-bucket"),
    request("iam"),
    request("sso", region="eu-west-1"),
    request("identitystore"),
    request("s3", "/v20180820/configuration/publicAccessBlock"),  # S3 Control signs as s3
    request("sts"),
    request(None, "/moto-api/data.json"),
]


@pytest.mark.parametrize("environ", REQUESTS, ids=lambda e: e.get("HTTP_AUTHORIZATION", e["PATH_INFO"])[40:70])
def test_each_request_goes_to_the_service_moto_chooses(environ):
    ours, motos = Dispatcher(create_backend_app), DomainDispatcherApplication(create_backend_app)
    assert backend(ours, ours.get_application(dict(environ))) == backend(motos, motos.get_application(dict(environ)))


def test_a_service_is_resolved_once_not_per_request(monkeypatch):
    resolved: list[str | None] = []
    choose = DomainDispatcherApplication.get_backend_for_host

    def counting(self, host):
        resolved.append(host)
        return choose(self, host)

    monkeypatch.setattr(DomainDispatcherApplication, "get_backend_for_host", counting)
    dispatcher = Dispatcher(create_backend_app)
    for _ in range(50):
        for service in ("s3", "iam"):
            dispatcher.get_application(request(service, "/trail-bucket"))
    assert sorted(host for host in resolved if host) == ["iam.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com"]
