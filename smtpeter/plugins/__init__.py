"""
The drop-in package where smtpeter finds its features, built in and third
party, with C{twisted.plugin}. A distribution adds a feature by shipping a
module in C{smtpeter/plugins/} (without an C{__init__.py}) that defines
objects providing L{smtpeter.features.IFeature}; see docs/plugins.md.
"""

from twisted.plugin import pluginPackagePaths

__path__.extend(pluginPackagePaths(__name__))
__all__: list[str] = []
