//! Webhook notifications: templates, Standard Webhooks signatures, and refusing private addresses.
