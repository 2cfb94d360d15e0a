"""The ofm.rollback lab: a small, real copy of the production shape on loopback."""
