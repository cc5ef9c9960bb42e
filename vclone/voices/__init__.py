"""Voices shipped with vclone: one folder per voice (voice.safetensors + voice.json, as `vclone train`
exports them), found by name through vclone.models.shipped; `vclone voices` lists them."""
