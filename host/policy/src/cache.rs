//! The precompiled-module cache: compiling a policy takes tens of
//! milliseconds, loading its machine code back takes well under one, so
//! restarts and hot swaps of a module seen before skip the compiler.
//!
//! Entries are keyed by the module's SHA-256 and the engine's compatibility
//! hash (wasmtime version, target, and every setting that changes code), so
//! a stale entry is never loaded after an upgrade; entries of other engines
//! are removed when the cache is opened. The directory is 0700 and must be
//! owned by us: loading machine code from a file trusts that file.
#![allow(
    unsafe_code,
    reason = "Component::deserialize_file is unsafe: it trusts the file's machine code"
)]

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of precompiled components for one engine configuration.
#[derive(Debug)]
pub(crate) struct PrecompileCache {
    dir: PathBuf,
    compat: String,
}

fn compat_hash(engine: &Engine) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

impl PrecompileCache {
    /// Opens (creating it 0700) the cache directory, refusing one that others can write.
    pub(crate) fn open(dir: &Path, engine: &Engine) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        let meta = fs::metadata(dir)?;
        // /proc/self belongs to our effective uid.
        let me = fs::metadata("/proc/self")?.uid();
        if meta.uid() != me || meta.mode() & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{}: must be owned by uid {me} with mode 0700 (owner {}, mode {:o})",
                    dir.display(),
                    meta.uid(),
                    meta.mode() & 0o7777
                ),
            ));
        }
        let compat = compat_hash(engine);
        // Entries of another wasmtime or configuration can never load again.
        for entry in fs::read_dir(dir)?.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".cwasm") && !name.ends_with(&format!("-{compat}.cwasm")) {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            compat,
        })
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}-{}.cwasm", self.compat))
    }

    /// The precompiled component for `hash`, if cached and loadable.
    pub(crate) fn get(&self, engine: &Engine, hash: &str) -> Option<Component> {
        let path = self.path(hash);
        if !path.is_file() {
            return None;
        }
        // SAFETY: the file lives in a 0700 directory owned by our uid (checked
        // in `open`) and was written by `put` from `Engine::precompile_component`
        // output for this engine configuration (its name carries the
        // compatibility hash; wasmtime checks it again in the header).
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unusable precompiled policy; recompiling");
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores the artifact of a module that loaded and passed its
    /// self-test (a module that fails later never reaches the cache).
    pub(crate) fn put(&self, hash: &str, artifact: &[u8]) {
        let path = self.path(hash);
        // Write aside, then rename: a reader never sees half a file.
        let tmp = self.dir.join(format!(".{hash}.{}.tmp", std::process::id()));
        let written = fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(artifact).and_then(|()| f.sync_all()))
            .and_then(|()| fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            tracing::warn!(path = %path.display(), error = %e, "cannot cache a precompiled policy");
        }
    }
}
