//! Alert emails, sent through SMTP with lettre.
