//! A small filesystem of a test's own, mounted on a folder of its test
//! folder: a tmpfs (a reject folder that is really full; `Need::Mount`), or
//! an ext4 image on a loop device (inode numbers that no other process
//! takes; `Need::LoopExt4`). Unmounted when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct SmallFs {
    at: PathBuf,
}

fn mount(args: &[&str], at: &Path) -> Result<(), String> {
    let out = Command::new("mount")
        .args(args)
        .arg(at)
        .output()
        .map_err(|e| format!("mount: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "mount {args:?} {}: {}",
            at.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

impl SmallFs {
    /// A tmpfs of `kib` KiB at `at` (created if missing).
    pub fn mount(at: &Path, kib: u64) -> Result<SmallFs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let size = format!("size={kib}k");
        mount(&["-t", "tmpfs", "-o", &size, "tmpfs"], at)?;
        Ok(SmallFs {
            at: at.to_path_buf(),
        })
    }

    /// Grows it to `kib` KiB (space freed).
    pub fn resize(&self, kib: u64) {
        mount(&["-o", &format!("remount,size={kib}k")], &self.at).unwrap();
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

impl SmallFs {
    /// A fresh ext4 filesystem of `mib` MiB in an image beside `at`,
    /// mounted at `at` through a loop device.
    pub fn ext4(at: &Path, mib: u64) -> Result<SmallFs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let image = at.with_extension("img");
        let file = std::fs::File::create(&image).map_err(|e| e.to_string())?;
        file.set_len(mib << 20).map_err(|e| e.to_string())?;
        let out = Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(&image)
            .output()
            .map_err(|e| format!("mkfs.ext4: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mkfs.ext4: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        mount(&["-o", "loop", image.to_str().unwrap_or_default()], at)?;
        Ok(SmallFs {
            at: at.to_path_buf(),
        })
    }
}

/// Whether this process may mount an ext4 image through a loop device.
pub fn can_mount_ext4() -> Result<(), String> {
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    SmallFs::ext4(&d.path().join("m"), 8)
        .map(drop)
        .map_err(|e| {
            format!(
                "cannot mount an ext4 image of the test's own (needs root, mkfs.ext4 and a loop \
             device): {e}"
            )
        })
}

/// Whether this process may mount a tmpfs: tried once.
pub fn can_mount() -> Result<(), String> {
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    SmallFs::mount(&d.path().join("m"), 64)
        .map(drop)
        .map_err(|e| {
            format!("cannot mount a tmpfs of the test's own (needs root or CAP_SYS_ADMIN): {e}")
        })
}
