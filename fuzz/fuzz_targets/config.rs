//! `train` config files: any TOML gives a run config whose every derived setting is valid or
//! an error, never a panic.
#![no_main]

use wgtrain::run::RunConfig;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cfg) = toml::from_str::<RunConfig>(text) else { return };
    let _ = cfg.train_config();
    let _ = cfg.model_spec(784, 10);
    let _ = cfg.optimizer(100);
    let _ = cfg.to_toml();
});
