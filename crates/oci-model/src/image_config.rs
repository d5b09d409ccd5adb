//! image_config
