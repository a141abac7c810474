from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files; `import ... from "./socket.js"` inside the pages' ES
    modules is rewritten to the hashed name too, so a deploy never mixes old and new modules."""

    support_js_module_import_aggregation = True
