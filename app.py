"""Placeholder for the interestmap app (Gradio), which arrives with the app issue."""

import sys

if __name__ == "__main__":
    print("interestmap: the app is not built yet; it arrives with the app issue. "
          "Meanwhile, try: .venv/bin/interestmap encode --help")
    sys.exit(0)
