"""`python -m qa.ui`: the Gradio app (qa.serving.ui) and the HTTP API, as `qa serve` starts them."""

from qa.serving.server import serve
from qa.settings import Settings

if __name__ == "__main__":
    serve(Settings.from_env())
