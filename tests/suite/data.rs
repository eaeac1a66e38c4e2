//! Data movement: gathers from f32, packed u8 and u32 sources at the step's batch offset;
//! fill and scale, including one tensor large enough to need the 2-D dispatch grid.

use crate::common;

use common::{gpu, uniform, Both};
use wgtrain::{Backend, CpuBackend, DType, Gather, StepCounters};

fn permutation(n: usize) -> Vec<u32> {
    (0..n as u32).map(|i| (i * 7919 + 3) % n as u32).collect()
}

#[test]
fn gathers_match_the_twin_for_every_source_type() {
    // 37 columns: one element per invocation; 36: the four-column kernels (vec4, and whole
    // packed words for u8).
    for cols in [37, 36] {
        gathers_match_the_twin(cols);
    }
}

fn gathers_match_the_twin(cols: usize) {
    let (src_rows, batch) = (1001, 129);
    let index = permutation(src_rows);
    let pixels: Vec<u8> = (0..src_rows * cols).map(|i| (i * 131 % 256) as u8).collect();
    let floats = uniform(4, src_rows * cols);
    let words: Vec<u32> = (0..src_rows * cols).map(|i| i as u32 * 3).collect();
    let spec = Gather { scale: 1.0 / 255.0, shift: -0.5 };
    let mut outs = Vec::new();
    for b in Both::new().each() {
        b.begin_step(StepCounters { step: 0, batch_offset: 700, row_base: 0 }).unwrap();
        let idx = b.upload_u32(1, src_rows, &index).unwrap();
        let (s8, s32, sf) = (
            b.upload_u8(src_rows, cols, &pixels).unwrap(),
            b.upload_u32(src_rows, cols, &words).unwrap(),
            b.upload(src_rows, cols, &floats).unwrap(),
        );
        let (d8, df) = (b.zeros(batch, cols).unwrap(), b.zeros(batch, cols).unwrap());
        let d32 = b.alloc(batch, cols, DType::U32).unwrap();
        b.gather_rows(&[s8], idx, d8, spec).unwrap();
        b.gather_rows(&[sf], idx, df, spec).unwrap();
        b.gather_rows(&[s32], idx, d32, Gather::default()).unwrap();
        outs.push((b.read(d8).unwrap(), b.read(df).unwrap(), b.read_u32(d32).unwrap()));
    }
    // Same f32 operations on both sides (one multiply, one add): identical.
    assert_eq!(outs[0], outs[1]);
    let (d8, _, d32) = &outs[0];
    for r in [0, 64, 128] {
        let src = index[700 + r] as usize;
        assert_eq!(d32[r * cols + 5], words[src * cols + 5]);
        assert_eq!(d8[r * cols + 5], pixels[src * cols + 5] as f32 * spec.scale + spec.shift);
    }
}

#[test]
fn a_gather_past_the_end_of_the_index_list_is_an_error() {
    for b in Both::new().each() {
        let idx = b.upload_u32(1, 10, &permutation(10)).unwrap();
        let src = b.zeros(10, 3).unwrap();
        let dst = b.zeros(4, 3).unwrap();
        b.begin_step(StepCounters { step: 0, batch_offset: 8, row_base: 0 }).unwrap();
        let err = b.gather_rows(&[src], idx, dst, Gather::default()).unwrap_err();
        assert!(err.to_string().contains("batch_offset + rows = 12"), "{err}");
        let wrong = b.zeros(4, 2).unwrap();
        b.begin_step(StepCounters::default()).unwrap();
        let err = b.gather_rows(&[src], idx, wrong, Gather::default()).unwrap_err();
        assert!(err.to_string().contains("3 columns"), "{err}");
    }
}

#[test]
fn fill_reaches_every_element_of_a_tensor_past_65535_workgroups() {
    // 65,535 workgroups of 256 cover 16,776,960 elements; the rest need the grid's y rows.
    let mut g = gpu();
    let n = 65_535 * 256 + 1000;
    let t = g.zeros(1, n).unwrap();
    g.fill(t, 2.5).unwrap();
    let v = g.read(t).unwrap();
    assert!(v.iter().all(|&x| x == 2.5), "first miss at {:?}", v.iter().position(|&x| x != 2.5));
}

#[test]
fn scale_out_of_place_and_in_place() {
    for b in Both::new().each() {
        let x = uniform(3, 777);
        let xt = b.upload(1, 777, &x).unwrap();
        let y = b.zeros(1, 777).unwrap();
        b.scale(xt, y, -3.0).unwrap();
        b.scale(xt, xt, 0.5).unwrap();
        let want_y: Vec<f32> = x.iter().map(|v| v * -3.0).collect();
        let want_x: Vec<f32> = x.iter().map(|v| v * 0.5).collect();
        assert_eq!(b.read(y).unwrap(), want_y, "{}", b.describe());
        assert_eq!(b.read(xt).unwrap(), want_x, "{}", b.describe());
    }
}

#[test]
fn copy_moves_every_dtype() {
    for b in Both::new().each() {
        let s = b.upload_u32(2, 3, &[1, 2, 3, 4, 5, 6]).unwrap();
        let d = b.alloc(3, 2, DType::U32).unwrap();
        b.copy(s, d).unwrap();
        assert_eq!(b.read_u32(d).unwrap(), vec![1, 2, 3, 4, 5, 6]);
        let f = b.zeros(3, 2).unwrap();
        assert!(b.copy(s, f).unwrap_err().to_string().contains("U32"));
    }
}

#[test]
fn gathers_read_sources_whole_or_split_into_chunks() {
    // 1001 rows whole (the one-chunk pipelines) and in chunks of 300 (rows 900..1000 live in
    // the fourth, shorter chunk); 5 columns (a float per invocation) and 8 (four).
    for (cols, chunk) in [(5, 300), (8, 300), (5, 1001), (8, 1001)] {
        gather_in_chunks(1001, cols, chunk);
    }
}

fn gather_in_chunks(src_rows: usize, cols: usize, chunk: usize) {
    let index = permutation(src_rows);
    let pixels: Vec<u8> = (0..src_rows * cols).map(|i| (i * 7 % 256) as u8).collect();
    let floats = uniform(9, src_rows * cols);
    let spec = Gather { scale: 0.5, shift: 1.0 };
    let mut outs = Vec::new();
    for b in Both::new().each() {
        b.begin_step(StepCounters { step: 0, batch_offset: 0, row_base: 0 }).unwrap();
        let idx = b.upload_u32(1, src_rows, &index).unwrap();
        let chunks8: Vec<_> = (0..src_rows)
            .step_by(chunk)
            .map(|s| {
                let n = chunk.min(src_rows - s);
                b.upload_u8(n, cols, &pixels[s * cols..(s + n) * cols]).unwrap()
            })
            .collect();
        let chunksf: Vec<_> = (0..src_rows)
            .step_by(chunk)
            .map(|s| {
                let n = chunk.min(src_rows - s);
                b.upload(n, cols, &floats[s * cols..(s + n) * cols]).unwrap()
            })
            .collect();
        let (d8, df) = (b.zeros(src_rows, cols).unwrap(), b.zeros(src_rows, cols).unwrap());
        b.gather_rows(&chunks8, idx, d8, spec).unwrap();
        b.gather_rows(&chunksf, idx, df, spec).unwrap();
        outs.push((b.read(d8).unwrap(), b.read(df).unwrap()));
    }
    let what = format!("{cols} columns in chunks of {chunk} rows");
    assert_eq!(outs[0], outs[1], "{what}");
    for (r, &src) in index.iter().enumerate() {
        let src = src as usize;
        for c in 0..cols {
            assert_eq!(outs[0].0[r * cols + c], pixels[src * cols + c] as f32 * 0.5 + 1.0, "{what}: row {r}");
            assert_eq!(outs[0].1[r * cols + c], floats[src * cols + c] * 0.5 + 1.0, "{what}: row {r}");
        }
    }
}

#[test]
fn chunk_lists_that_do_not_tile_the_source_are_refused() {
    let mut c = CpuBackend::new();
    let (a, b_short, b_long) = (c.zeros(4, 3).unwrap(), c.zeros(2, 3).unwrap(), c.zeros(5, 3).unwrap());
    let idx = c.upload_u32(1, 4, &[0, 1, 2, 3]).unwrap();
    let dst = c.zeros(4, 3).unwrap();
    let err = c.gather_rows(&[b_short, a], idx, dst, Gather::default()).unwrap_err();
    assert!(err.to_string().contains("chunk 1"), "{err}");
    let err = c.gather_rows(&[a, b_long], idx, dst, Gather::default()).unwrap_err();
    assert!(err.to_string().contains("chunk 1"), "{err}");
    let err = c.gather_rows(&[a, a, a, a, a], idx, dst, Gather::default()).unwrap_err();
    assert!(err.to_string().contains("at most 4"), "{err}");
}

#[test]
fn freeing_device_data_releases_its_tensors_on_both_backends() {
    let data = wgtrain::data::sources::blobs(20, 3, 5, 1.0, 2);
    for b in Both::new().each() {
        let device = wgtrain::data::DeviceData::upload(b, &data).unwrap();
        let (x, labels) = (device.x[0], device.labels);
        assert_eq!(b.read(x).unwrap().len(), 60 * 5);
        device.free(b).unwrap();
        // A freed handle is invalid: reading it is an error naming the op, not stale data.
        for t in [x, labels] {
            let err = b.read(t).unwrap_err();
            assert!(err.to_string().contains("read"), "{err}");
        }
    }
}

#[test]
fn apply_mask_matches_the_twin_bit_for_bit_on_ragged_shapes() {
    // Ragged shapes (1×1, odd widths, one past a workgroup), and values a product would get
    // wrong: −x·0 is −0 and NaN·0 is NaN, where the mask must give exactly +0.
    for (rows, cols) in [(1, 1), (7, 13), (33, 5), (3, 257)] {
        let n = rows * cols;
        let mut y = uniform(9, n);
        y[0] = -1.5;
        if n > 2 {
            y[1] = f32::NAN;
            y[2] = -0.0;
        }
        let mask: Vec<f32> = (0..n).map(|i| if i % 3 == 0 || i == 1 { 0.0 } else { 1.0 }).collect();
        let mut outs = Vec::new();
        for b in Both::new().each() {
            let (m, t) = (b.upload(rows, cols, &mask).unwrap(), b.upload(rows, cols, &y).unwrap());
            b.apply_mask(m, t).unwrap();
            outs.push(b.read(t).unwrap());
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&outs[0]), bits(&outs[1]), "{rows}×{cols}: GPU and twin differ");
        for (i, v) in outs[0].iter().enumerate() {
            if mask[i] == 0.0 {
                assert_eq!(v.to_bits(), 0.0f32.to_bits(), "{rows}×{cols} [{i}]: a masked entry is {v}");
            } else {
                assert_eq!(v.to_bits(), y[i].to_bits(), "{rows}×{cols} [{i}]: a kept entry changed");
            }
        }
    }
    // The mask must cover the tensor element for element.
    let mut g = gpu();
    let (m, t) = (g.zeros(2, 3).unwrap(), g.zeros(2, 4).unwrap());
    assert!(g.apply_mask(m, t).unwrap_err().to_string().contains("apply_mask"));
}
