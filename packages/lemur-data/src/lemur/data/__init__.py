"""Lemur data: sources, filters, dedup, tokenization, packing and mixtures for pre-training and SFT."""
