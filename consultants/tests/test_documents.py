import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consultants.models import ConsultantDocument

pytestmark = pytest.mark.django_db

URL = "/api/v1/consultants/me/documents"
PDF = b"%PDF-1.7\n" + b"0" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 100


def upload(api, content, name="degree.pdf", kind="qualification", content_type="application/pdf"):
    file = SimpleUploadedFile(name, content, content_type=content_type)
    return api.post(URL, {"kind": kind, "file": file}, format="multipart")


def test_a_consultant_uploads_a_document_stored_privately(as_consultant, profile, private_media):
    response = upload(as_consultant, PDF)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["kind"] == "qualification"
    assert data["content_type"] == "application/pdf"
    assert data["size"] == len(PDF)
    assert "url" not in data and "file" not in data
    document = ConsultantDocument.objects.get(pk=data["id"])
    path = private_media / document.file.name
    assert path.read_bytes() == PDF
    assert "degree" not in document.file.name  # a random name on disk
    assert document.file.name.endswith(".pdf")


def test_the_type_comes_from_the_bytes_not_the_client(as_consultant, private_media):
    response = upload(as_consultant, PNG, name="id.pdf", kind="identity")
    assert response.json()["content_type"] == "image/png"
    response = upload(as_consultant, b"MZ\x90\x00 an exe", name="id.pdf")
    assert response.status_code == 400
    assert "file" in response.json()["fields"]
    response = upload(as_consultant, b"<html><script>", name="x.png", content_type="image/png")
    assert response.status_code == 400
    assert ConsultantDocument.objects.count() == 1


def test_a_document_over_the_size_limit_is_refused(as_consultant, settings, private_media):
    settings.MAX_UPLOAD_BYTES = 1024
    response = upload(as_consultant, PDF + b"0" * 2000)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert not ConsultantDocument.objects.exists()


def test_an_unknown_kind_or_no_file_is_invalid(as_consultant, private_media):
    assert upload(as_consultant, PDF, kind="selfie").status_code == 400
    response = as_consultant.post(URL, {"kind": "identity"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["fields"]


def test_a_consultant_lists_their_documents_without_links(as_consultant, private_media, profile):
    upload(as_consultant, PDF)
    upload(as_consultant, PNG, kind="identity")
    response = as_consultant.get(URL)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["kind"] for row in rows] == ["identity", "qualification"]
    assert all(
        set(row) == {"id", "kind", "original_name", "content_type", "size", "uploaded_at"}
        for row in rows
    )


# --- Quota, and nothing left behind (issue 10) -----------------------------------------------


def stored_files(private_media) -> list:
    return [path for path in private_media.rglob("*") if path.is_file()]


def test_a_consultant_may_keep_so_many_documents(as_consultant, settings, private_media):
    settings.DOCUMENTS_MAX_COUNT = 3
    for _ in range(3):
        assert upload(as_consultant, PDF).status_code == 201
    response = upload(as_consultant, PDF)
    assert response.status_code == 409
    assert response.json()["code"] == "document_quota_exceeded"
    assert ConsultantDocument.objects.count() == 3
    assert len(stored_files(private_media)) == 3


def test_a_consultant_may_keep_so_many_bytes(as_consultant, settings, private_media):
    settings.DOCUMENTS_MAX_TOTAL_BYTES = 5000
    big = PDF + b"0" * 2000  # 2,109 bytes
    assert upload(as_consultant, big).status_code == 201
    assert upload(as_consultant, big).status_code == 201
    response = upload(as_consultant, big)  # 6,327 bytes in all
    assert response.status_code == 409
    assert response.json()["code"] == "document_quota_exceeded"
    assert len(stored_files(private_media)) == 2
    assert upload(as_consultant, PDF).status_code == 201  # a small one still fits


def test_a_rolled_back_upload_leaves_no_file(as_consultant, private_media, monkeypatch):
    from django.db import DatabaseError

    def broken_save(self, *args, **kwargs):
        raise DatabaseError("the insert failed after the file was written")

    monkeypatch.setattr(ConsultantDocument, "save", broken_save)
    with pytest.raises(DatabaseError):
        upload(as_consultant, PDF)
    assert stored_files(private_media) == []
