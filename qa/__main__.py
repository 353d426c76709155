from qa.serving.cli import app

app(prog_name="qa")
