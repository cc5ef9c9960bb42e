"""Exported voices: ONNX graphs + a JSON manifest (`vclone.export.onnx`, torch) and the torch-free
runtime that speaks with them (`vclone.export.runtime`, onnxruntime + numpy). Importing this package
loads neither."""
