//! Data loading: the real files, and a clear error for every way a file can be wrong.

use std::io::Write;
use std::path::{Path, PathBuf};

use wgtrain::data::idx::parse_idx;
use wgtrain::data::{sources, Features, Standardizer};
use wgtrain::Error;

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgtrain-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn idx_bytes(dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend(payload);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn data_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
}

#[test]
fn the_real_fashion_mnist_and_digits_files_load_with_their_published_shapes() {
    let fm = sources::idx_dir("fashion-mnist", &data_dir().join("fashion-mnist"), true)
        .unwrap_or_else(|e| panic!("{e} (run scripts/fetch-data.sh)"));
    assert_eq!((fm.rows, fm.cols, fm.classes), (60_000, 784, 10));
    let test = sources::idx_dir("fashion-mnist", &data_dir().join("fashion-mnist"), false).unwrap();
    assert_eq!(test.rows, 10_000);
    // Fashion-MNIST is balanced: 6,000 of each class in training.
    for c in 0..10 {
        assert_eq!(fm.labels.iter().filter(|&&l| l == c).count(), 6_000);
    }
    let digits = sources::digits();
    assert_eq!((digits.rows, digits.cols, digits.classes), (1797, 64, 10));
    // The copy built in is scikit-learn's file, byte for byte what a file read gives.
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/digits.csv.gz");
    assert_eq!(sources::digits_file(&bundled).unwrap(), digits);
}

#[test]
fn idx_parsing_reports_each_kind_of_damage() {
    let good = idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6]);
    assert_eq!(parse_idx(&good).unwrap().dims, vec![2, 3]);
    let mut wrong_magic = good.clone();
    wrong_magic[0] = 0x50;
    assert!(parse_idx(&wrong_magic).unwrap_err().contains("wrong magic number"));
    let truncated = idx_bytes(&[2, 3], &[1, 2, 3]);
    assert!(parse_idx(&truncated).unwrap_err().contains("payload truncated: dimensions 2×3 need 6 bytes, found 3"));
    let long = idx_bytes(&[2], &[1, 2, 3]);
    assert!(parse_idx(&long).unwrap_err().contains("too long"));
    let mut float_type = good.clone();
    float_type[2] = 0x0D;
    assert!(parse_idx(&float_type).unwrap_err().contains("not supported"));
    assert!(parse_idx(&[0, 0]).unwrap_err().contains("too short"));
}

#[test]
fn idx_files_raw_or_gzip_and_their_errors_name_the_file() {
    let dir = tempdir("idx");
    let images = idx_bytes(&[3, 2, 2], &[0; 12]);
    std::fs::write(dir.join("train-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gzip(&idx_bytes(&[3], &[0, 1, 2]))).unwrap();
    let data = sources::idx_dir("tiny", &dir, true).unwrap();
    assert_eq!((data.rows, data.cols, data.classes), (3, 4, 3));

    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gzip(&idx_bytes(&[2], &[0, 1]))).unwrap();
    let err = sources::idx_dir("tiny", &dir, true).unwrap_err();
    assert!(matches!(err, Error::DataCorrupt { .. }) && err.to_string().contains("2 labels for 3 images"), "{err}");

    let mut damaged = gzip(&images);
    let n = damaged.len();
    damaged.truncate(n - 10);
    std::fs::write(dir.join("train-images-idx3-ubyte"), b"").unwrap();
    std::fs::remove_file(dir.join("train-images-idx3-ubyte")).unwrap();
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), damaged).unwrap();
    let err = sources::idx_dir("tiny", &dir, true).unwrap_err();
    assert!(err.to_string().contains("train-images-idx3-ubyte.gz") && err.to_string().contains("gzip"), "{err}");

    let err = sources::idx_dir("fashion-mnist", &dir.join("absent"), true).unwrap_err();
    assert!(matches!(err, Error::DataMissing { .. }) && err.to_string().contains("Give a directory holding"), "{err}");
}

#[test]
fn csv_files_take_a_header_and_a_label_column_and_report_bad_lines() {
    let dir = tempdir("csv");
    let path = dir.join("points.csv");
    std::fs::write(&path, "x,y,label\n0.5,1.5,0\n2,3,1\n\n4,5,2\n").unwrap();
    let d = sources::csv(&path, -1).unwrap();
    assert_eq!((d.rows, d.cols, d.classes), (3, 2, 3));
    assert_eq!(d.features, Features::F32(vec![0.5, 1.5, 2.0, 3.0, 4.0, 5.0]));
    let first = sources::csv(&path, 0).unwrap_err();
    assert!(first.to_string().contains("label 0.5 is not a class number"), "{first}");

    std::fs::write(&path, "1,2,0\n3,1\n").unwrap();
    assert!(sources::csv(&path, -1).unwrap_err().to_string().contains("line 2: 2 fields where earlier lines have 3"));
    std::fs::write(&path, "1,2,0\n3,x,1\n").unwrap();
    assert!(sources::csv(&path, -1).unwrap_err().to_string().contains("line 2, field 2: \"x\" is not a number"));
    std::fs::write(&path, "label\n").unwrap();
    assert!(sources::csv(&path, -1).unwrap_err().to_string().contains("no data rows"));
}

#[test]
fn splits_are_disjoint_seeded_and_sized() {
    let d = sources::blobs(50, 4, 3, 1.0, 1);
    let (rest, split) = d.split(0.2, 9).unwrap();
    assert_eq!((rest.rows, split.rows), (160, 40));
    let (rest2, _) = d.split(0.2, 9).unwrap();
    assert_eq!(rest.features, rest2.features, "the same seed splits the same way");
    let mut all: Vec<Vec<u32>> = [rest.to_f32(), split.to_f32()]
        .iter()
        .flat_map(|v| v.chunks(3).map(|r| r.iter().map(|x| x.to_bits()).collect()).collect::<Vec<_>>())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 200, "every sample in exactly one part");
    assert!(d.split(1.0, 1).is_err());
}

#[test]
fn standardization_centres_and_scales_from_the_training_set() {
    let train = sources::blobs(100, 3, 4, 2.0, 5);
    let mut t = train.clone();
    let s = Standardizer::fit(&train);
    s.apply(&mut t);
    let v = t.to_f32();
    for c in 0..4 {
        let col: Vec<f64> = v.iter().skip(c).step_by(4).map(|&x| x as f64).collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let var = col.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / col.len() as f64;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "feature {c}: mean {mean}, var {var}");
    }
    // Bytes stay bytes: the standardization is folded into the device-side scale and shift.
    let mut images = wgtrain::data::Dataset::new(
        "img",
        Features::U8 { data: vec![0, 255, 0, 255], scale: 1.0 / 255.0, shift: 0.0 },
        vec![0, 1],
        2,
    )
    .unwrap();
    Standardizer::fit(&images).apply(&mut images);
    assert!(matches!(images.features, Features::U8 { .. }));
    assert_eq!(images.to_f32(), vec![-1.0, 1.0, -1.0, 1.0]);
}

#[test]
fn synthetic_sets_have_the_asked_shape() {
    let s = sources::spirals(100, 0.05, 1);
    assert_eq!((s.rows, s.cols, s.classes), (200, 2, 2));
    let b = sources::blobs(10, 5, 7, 0.5, 1);
    assert_eq!((b.rows, b.cols, b.classes), (50, 7, 5));
}

#[test]
fn csv_headers_may_be_quoted_and_lines_may_end_in_crlf() {
    let rows = wgtrain::data::csv::rows("\"sepal, length\",\"width\",label\r\n1.5,2,0\r\n\r\n\"3\",4,1\r\n").unwrap();
    assert_eq!(rows, vec![(2, vec![1.5, 2.0, 0.0]), (4, vec![3.0, 4.0, 1.0])]);
    // Line numbers count blank lines, as an editor does.
    let err = wgtrain::data::csv::rows("1,2\n\n\n3,x\n").unwrap_err();
    assert!(err.starts_with("line 4, field 2"), "{err}");
    let err = wgtrain::data::csv::rows("1,2\n3,\"four\"\n").unwrap_err();
    assert!(err.contains("line 2, field 2: \"four\" is not a number"), "{err}");
}

/// CIFAR-10's binary batches, written small: records are read in file order across the
/// training batches, pixels kept as bytes, and damage is named.
#[test]
fn cifar10_batches_are_read_in_order_and_damage_is_named() {
    let dir = std::env::temp_dir().join(format!("wgtrain-cifar-{}", std::process::id()));
    let inner = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&inner).unwrap();
    let record = |label: u8, fill: u8| {
        let mut r = vec![label];
        r.extend((0..3072).map(|i| fill.wrapping_add((i % 7) as u8)));
        r
    };
    std::fs::write(inner.join("data_batch_1.bin"), [record(0, 10), record(9, 20)].concat()).unwrap();
    std::fs::write(inner.join("data_batch_2.bin"), record(4, 30)).unwrap();
    std::fs::write(inner.join("test_batch.bin"), record(7, 40)).unwrap();
    let train = sources::cifar10(&dir, true).unwrap();
    assert_eq!((train.rows, train.cols, train.labels.clone()), (3, 3072, vec![0, 9, 4]));
    assert_eq!(train.value(2, 1), 31.0 * (1.0 / 255.0), "byte·(1/255), record order kept across batches");
    assert_eq!(sources::cifar10(&inner, false).unwrap().labels, vec![7], "the batches directory itself works too");

    std::fs::write(inner.join("data_batch_2.bin"), &record(4, 30)[..3000]).unwrap();
    let err = sources::cifar10(&dir, true).unwrap_err().to_string();
    assert!(err.contains("data_batch_2.bin") && err.contains("3000 bytes is not a whole number of 3073-byte records"), "{err}");
    std::fs::write(inner.join("data_batch_2.bin"), record(10, 30)).unwrap();
    let err = sources::cifar10(&dir, true).unwrap_err().to_string();
    assert!(err.contains("record 0 has label 10"), "{err}");
    let err = sources::cifar10(&dir.join("absent"), true).unwrap_err().to_string();
    assert!(err.contains("wgtrain data fetch cifar10"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
