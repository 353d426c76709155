"""`python -m qa.ui`: the Gradio app (qa.serving.ui), as `qa serve` starts it."""

from qa.serving.ui import serve

if __name__ == "__main__":
    serve()
