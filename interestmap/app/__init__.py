"""The Gradio app: views as plain functions, the UI wiring, plots and the map page."""
