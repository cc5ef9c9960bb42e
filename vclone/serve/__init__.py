"""`vclone serve`: an OpenAI-compatible speech server with voice registration and a page (needs the `server` extra)."""

from vclone.serve.config import ServeConfig, default_voices_dir

__all__ = ["ServeConfig", "default_voices_dir", "create_app"]


def create_app(config: ServeConfig, **kwargs):
    """The server's ASGI application (vclone.serve.app.create_app; imported here on first call, so
    `import vclone.serve` loads neither FastAPI nor torch)."""
    from vclone.serve.app import create_app as build

    return build(config, **kwargs)
