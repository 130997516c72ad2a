"""smtpeter's own features, found like any other plugin's."""

from smtpeter.features._bounces import TrackBounces
from smtpeter.features._dkim import SignDKIM
from smtpeter.features._images import HostedImages
from smtpeter.features._inlinecss import InlineCSS
from smtpeter.features._links import PreventScam, TrackClicks
from smtpeter.features._opens import TrackOpens

hostedimages = HostedImages()
inlinecss = InlineCSS()
preventscam = PreventScam()
trackclicks = TrackClicks()
trackopens = TrackOpens()
trackbounces = TrackBounces()
dkim = SignDKIM()
