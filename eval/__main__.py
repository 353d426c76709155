import sys

from qa.serving.cli import app

app(args=["eval", *sys.argv[1:]], prog_name="python -m eval")
