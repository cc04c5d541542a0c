"""The privacy officer's tools: subject access and erasure (:mod:`.subjects`), the
PII-access audit log (:mod:`.audit`) and the admin API's tokens (:mod:`.apitokens`)."""
