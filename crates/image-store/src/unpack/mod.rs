//! Decompression and safe tar application in overlay form.
