"""The demo operation: ``manage.py seed_demo`` and the seed it runs (``demo.seed``).

The top app of the layering: it imports every other app and nothing imports it, so the demo can
seed them all. It has no models; it writes only through the other apps' services.
"""
