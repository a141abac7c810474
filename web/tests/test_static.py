"""Production's static files: collectstatic with hashed names must succeed (a module that
imports itself in a comment once made it loop), and the page modules' imports follow."""

import re

from django.core.management import call_command
from django.test import override_settings


def test_collectstatic_makes_hashed_compressed_files_whose_imports_follow(tmp_path):
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "web.storage.StaticStorage"},
    }
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
    css = list((tmp_path / "css").glob("site.*.css"))
    assert css and (tmp_path / "css" / f"{css[0].name}.gz").exists()
    assert list((tmp_path / "admin" / "css").glob("base.*.css"))
    for module in (tmp_path / "js").glob("*.*.js"):
        for target in re.findall(r'from "([^"]+)"', module.read_text()):
            assert re.search(r"\.[0-9a-f]{12}\.js$", target), (module.name, target)
