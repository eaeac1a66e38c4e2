//! Checkpoints: a round trip gives identical predictions, saving at epoch k and resuming
//! equals an uninterrupted run bit for bit, a checkpoint of another architecture or a damaged
//! file is refused, and a failed save leaves the previous checkpoint whole.

mod common;

use common::cli::tempdir;
use common::gpu;
use common::training::{blobs, mlp_with_everything, read_params, setup};
use wgtrain::nn::{Mode, ModelSpec, Sequential};
use wgtrain::train::{checkpoint, DeviceData, TrainConfig};
use wgtrain::Activation;

#[test]
fn a_checkpoint_round_trip_gives_identical_predictions() {
    let data = blobs();
    let dir = tempdir("roundtrip");
    let mut g = gpu();
    let mut r = setup(
        &mut g,
        &mlp_with_everything(),
        &data,
        TrainConfig { epochs: 2, batch_size: 32, ..TrainConfig::default() },
    );
    r.trainer.fit(&mut g, &mut r.model, &mut r.opt, &r.data, None, &mut []).unwrap();
    let path = dir.join("model.safetensors");
    checkpoint::save(&path, &mut g, &r.model, Some(&r.opt), Some(&r.trainer)).unwrap();
    let before = r.trainer.inference().predict(&mut g, &mut r.model, &r.data, Mode::Eval, 0).unwrap();

    let mut fresh = gpu();
    let loaded = checkpoint::load(&path).unwrap();
    let mut model = loaded.build_model(&mut fresh).unwrap();
    let mut trainer = loaded.restore_trainer(&mut fresh, &model).unwrap();
    let data2 = DeviceData::upload(&mut fresh, &data).unwrap();
    let after = trainer.inference().predict(&mut fresh, &mut model, &data2, Mode::Eval, 0).unwrap();
    assert_eq!(before, after, "predictions changed across save and load");
    assert_eq!(trainer.history().epochs.len(), 2);
}

#[test]
fn saving_at_epoch_k_and_resuming_equals_an_uninterrupted_run() {
    let data = blobs();
    let config = TrainConfig { epochs: 4, batch_size: 24, seed: 5, ..TrainConfig::default() };
    // Uninterrupted: 4 epochs.
    let mut g = gpu();
    let mut whole = setup(&mut g, &mlp_with_everything(), &data, config.clone());
    whole.trainer.fit(&mut g, &mut whole.model, &mut whole.opt, &whole.data, None, &mut []).unwrap();
    let want = read_params(&mut g, &whole.model);

    // Interrupted: 2 epochs, save, then a fresh process-like start from the file.
    let dir = tempdir("resume");
    let path = dir.join("epoch2.safetensors");
    let mut g1 = gpu();
    let mut first = setup(&mut g1, &mlp_with_everything(), &data, TrainConfig { epochs: 2, ..config.clone() });
    first.trainer.fit(&mut g1, &mut first.model, &mut first.opt, &first.data, None, &mut []).unwrap();
    checkpoint::save(&path, &mut g1, &first.model, Some(&first.opt), Some(&first.trainer)).unwrap();

    let mut g2 = gpu();
    let loaded = checkpoint::load(&path).unwrap();
    let mut model = loaded.build_model(&mut g2).unwrap();
    let mut opt = loaded.restore_optimizer(&mut g2, &mut model).unwrap();
    let mut trainer = loaded.restore_trainer(&mut g2, &model).unwrap();
    trainer.set_epochs(4);
    let data2 = DeviceData::upload(&mut g2, &data).unwrap();
    trainer.fit(&mut g2, &mut model, &mut opt, &data2, None, &mut []).unwrap();
    let got = read_params(&mut g2, &model);
    assert_eq!(got, want, "the resumed run differs from the uninterrupted one");
    assert_eq!(trainer.state().step, whole.trainer.state().step);
}

#[test]
fn a_checkpoint_from_another_architecture_or_a_damaged_file_is_refused() {
    let data = blobs();
    let dir = tempdir("refuse");
    let mut g = gpu();
    let r = setup(&mut g, &mlp_with_everything(), &data, TrainConfig::default());
    let path = dir.join("a.safetensors");
    checkpoint::save(&path, &mut g, &r.model, None, None).unwrap();

    let other = ModelSpec::mlp(20, &[8], 4, Activation::Relu);
    let mut model = Sequential::new(&mut g, &other, 1).unwrap();
    let err = checkpoint::load(&path).unwrap().restore_model(&mut g, &mut model).unwrap_err();
    assert!(err.to_string().contains("different architecture"), "{err}");

    let bytes = std::fs::read(&path).unwrap();
    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = checkpoint::load(&truncated).err().unwrap();
    assert!(err.to_string().contains("corrupt or truncated"), "{err}");
    let err = checkpoint::load(&dir.join("missing.safetensors")).err().unwrap();
    assert!(err.to_string().contains("not found"), "{err}");
}

#[test]
fn a_failed_save_leaves_the_previous_checkpoint_intact() {
    let dir = tempdir("atomic");
    let path = dir.join("keep.safetensors");
    checkpoint::write_atomically(&path, b"first").unwrap();
    // Writing into a directory that does not exist fails before anything is replaced.
    let bad = dir.join("no-such-dir").join("keep.safetensors");
    assert!(checkpoint::write_atomically(&bad, b"second").is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"first");
    checkpoint::write_atomically(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}
