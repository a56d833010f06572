"""Integrations with the tools scrapers already use; each needs its own extra.

- :mod:`dedupe.contrib.scrapy`: an item pipeline (``pip install 'news-dedupe[scrapy]'``).
"""
