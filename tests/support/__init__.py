"""Helpers shared by the whole suite: test modules import from here, never from each other.

``runtime``: configs, locators and installed copies of the locator package; ``hatch`` and
``meson``: the fixture projects, real builds, archives and venvs; ``cdnserver``: the test CDN
(faults, TLS, proxies) on 127.0.0.1; ``tlsca``: a test certificate authority;
``reliability``: the fault suite's probes and the README table made from them.
"""
