"""Textual screens and widgets. They call the store; they never write SQL themselves."""
