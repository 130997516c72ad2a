"""smtpeter's own features, found like any other plugin's."""

from smtpeter.features import (
    HostedImages,
    InlineCSS,
    PreventScam,
    SignDKIM,
    TrackBounces,
    TrackClicks,
    TrackOpens,
    Unsubscribe,
)

hostedimages = HostedImages()
inlinecss = InlineCSS()
preventscam = PreventScam()
trackclicks = TrackClicks()
trackopens = TrackOpens()
trackbounces = TrackBounces()
unsubscribe = Unsubscribe()
dkim = SignDKIM()
