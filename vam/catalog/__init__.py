"""Every project of every brand (SPEC §7-8, `vam manifest.*`, `vam dashboard`): the manifest, the
registry and the HTML dashboard with its assets.
"""
