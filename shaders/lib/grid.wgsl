// grid.wgsl — the elementwise kernels' workgroup size and element numbering. The host sizes
// the dispatch with `gpu::grid`: x up to 65,535 workgroups, then rows of y, since a 1-D grid
// stops at 65,535 workgroups.

override WG: u32 = 256u;

fn element(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WG;
}
