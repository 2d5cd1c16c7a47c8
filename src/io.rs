//! Checkpoints as safetensors: atomic writes (temp file, fsync, rename) and validated reads.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::storage::CpuStorage;
use crate::tensor::Tensor;

/// Named tensors in file order, and the file's string metadata.
pub type NamedTensors = (Vec<(String, Tensor)>, HashMap<String, String>);

fn bytes_of(c: &CpuStorage) -> (Dtype, Vec<u8>) {
    match c {
        CpuStorage::F32(v) => (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        CpuStorage::F64(v) => (Dtype::F64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        CpuStorage::I64(v) => (Dtype::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        CpuStorage::Bool(v) => (Dtype::BOOL, v.iter().map(|&b| b as u8).collect()),
    }
}

/// Serialises named tensors and string metadata to safetensors bytes.
pub fn to_bytes(
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let mut owned = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let (dt, bytes) = bytes_of(&t.to_cpu_storage()?);
        owned.push((name.clone(), dt, t.shape().to_vec(), bytes));
    }
    let views: Vec<(String, TensorView<'_>)> = owned
        .iter()
        .map(|(n, dt, shape, b)| {
            TensorView::new(*dt, shape.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Value(format!("save: tensor '{n}': {e}")))
        })
        .collect::<Result<_>>()?;
    let meta = if metadata.is_empty() {
        None
    } else {
        Some(metadata)
    };
    safetensors::tensor::serialize(views, meta).map_err(|e| Error::Value(format!("save: {e}")))
}

/// Writes `bytes` to `path` atomically: a temp file beside it, flushed and fsynced, then renamed,
/// so a crash mid-save leaves the previous file whole.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::Io(format!("save: '{}' is not a file path", path.display())))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let io = |e: std::io::Error, what: &str| {
        Error::Io(format!("save: {what} '{}': {e}", path.display()))
    };
    let result = (|| {
        let mut f =
            std::fs::File::create(&tmp).map_err(|e| io(e, "cannot create temp file for"))?;
        f.write_all(bytes).map_err(|e| io(e, "cannot write"))?;
        f.sync_all().map_err(|e| io(e, "cannot sync"))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| io(e, "cannot replace"))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Saves named tensors with metadata to `path` (atomic).
pub fn save(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    write_atomic(path, &to_bytes(tensors, metadata)?)
}

fn le_chunks<const N: usize>(b: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    b.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

/// Parses safetensors bytes into named CPU tensors (in file order) and metadata.
/// Every length and offset is validated before any allocation, so a hostile file cannot
/// make it read out of bounds or allocate more than the file holds.
pub fn from_bytes(bytes: &[u8]) -> Result<NamedTensors> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::Value(format!("load: not a valid safetensors file: {e:?}")))?;
    let (_, meta) =
        SafeTensors::read_metadata(bytes).map_err(|e| Error::Value(format!("load: {e:?}")))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let mut out = Vec::new();
    let mut tensors = st.tensors();
    tensors.sort_by_key(|(_, v)| v.data().as_ptr() as usize);
    for (name, v) in tensors {
        let shape = v.shape().to_vec();
        let d = v.data();
        let storage = match v.dtype() {
            Dtype::F32 => CpuStorage::F32(le_chunks::<4>(d).map(f32::from_le_bytes).collect()),
            Dtype::F64 => CpuStorage::F64(le_chunks::<8>(d).map(f64::from_le_bytes).collect()),
            Dtype::I64 => CpuStorage::I64(le_chunks::<8>(d).map(i64::from_le_bytes).collect()),
            Dtype::I32 => CpuStorage::I64(
                le_chunks::<4>(d)
                    .map(|b| i32::from_le_bytes(b) as i64)
                    .collect(),
            ),
            Dtype::BOOL => CpuStorage::Bool(d.iter().map(|&b| b != 0).collect()),
            Dtype::F16 => CpuStorage::F32(
                le_chunks::<2>(d)
                    .map(|b| half::f16::from_le_bytes(b).to_f32())
                    .collect(),
            ),
            Dtype::BF16 => CpuStorage::F32(
                le_chunks::<2>(d)
                    .map(|b| half::bf16::from_le_bytes(b).to_f32())
                    .collect(),
            ),
            other => {
                return Err(Error::Value(format!(
                    "load: tensor '{name}' has unsupported dtype {other:?}"
                )));
            }
        };
        out.push((name, Tensor::from_cpu(storage, &shape)?));
    }
    Ok((out, metadata))
}

/// Loads named tensors and metadata from a safetensors file.
pub fn load(path: &Path) -> Result<NamedTensors> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Io(format!("load: cannot read '{}': {e}", path.display())))?;
    from_bytes(&bytes)
}
