"""Consent: the rules that decide what a request may store and which cookies it carries
(:mod:`.rules`, pure functions), the signed id cookies (:mod:`.idcookies`), the cookie
registry (:mod:`.registry`), the banner's texts (:mod:`.texts`) and the receipts that
prove every decision (:mod:`.receipts`)."""
