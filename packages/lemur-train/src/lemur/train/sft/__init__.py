"""The ``torch`` train backend: Lemur-Chat instruction fine-tuning with Transformers + Accelerate.

Modules: :mod:`.config` (the recipe), :mod:`.templates` (chat templates), :mod:`.examples`
(conversations to token ids and loss masks), :mod:`.collate` (padded and padding-free
micro-batches), :mod:`.schedule` (batch plan and learning rate), :mod:`.model` (loading,
special tokens), :mod:`.checkpoint` (save/resume), :mod:`.export` (Transformers export) and
:mod:`.trainer` (the loop). torch and transformers are imported inside functions only.
"""
