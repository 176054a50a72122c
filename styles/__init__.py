"""Stylesheets (.tcss); installed as the tui.styles package data."""
