"""
The plugin of docs/plugins.md, as a third party would ship it: a module in
the smtpeter/plugins drop-in directory (with no __init__.py beside it).
"""

from smtpeter.features import Feature


class Footer(Feature):
    """Adds a line to the end of every HTML part, and a per-recipient header."""

    name = "footer"
    order = 450
    perRecipient = True

    def prepareHTML(self, document, draft):
        from lxml.html import Element

        paragraph = Element("p")
        paragraph.text = "Sent through smtpeter"
        document.tree.find("body").append(paragraph)

    def personalise(self, copy):
        copy.content = f"X-Footer-Recipient: {copy.index}\r\n".encode() + copy.content


footer = Footer()
