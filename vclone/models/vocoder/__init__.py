"""Vocoders: log-mel -> waveform (HiFi-GAN generator, fast iSTFT generator, discriminators, losses)."""
