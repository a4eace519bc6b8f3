//! The file extensions Tradecloud's object storage refuses
//! (security/documents.md), checked before an upload is sent and by the
//! mock.

/// The extensions security/documents.md lists as blocked, without the dot,
/// in lower case.
pub const BLOCKED_EXTENSIONS: &[&str] = &[
    "ade",
    "adp",
    "apk",
    "appx",
    "appxbundle",
    "bat",
    "cab",
    "chm",
    "cmd",
    "com",
    "cpl",
    "diagcab",
    "diagcfg",
    "diagpack",
    "dll",
    "dmg",
    "ex",
    "ex_",
    "exe",
    "hta",
    "img",
    "ins",
    "iso",
    "isp",
    "jar",
    "jnlp",
    "js",
    "jse",
    "lib",
    "lnk",
    "mde",
    "msc",
    "msi",
    "msix",
    "msixbundle",
    "msp",
    "mst",
    "nsh",
    "pif",
    "ps1",
    "scr",
    "sct",
    "shb",
    "sys",
    "vb",
    "vbe",
    "vbs",
    "vhd",
    "vxd",
    "wsc",
    "wsf",
    "wsh",
    "xll",
];

/// The blocked extension of `file_name` (its last `.`-separated part,
/// compared without regard to case), if it has one that Tradecloud refuses.
///
/// ```
/// use tradecloud::client::blocked_extension;
///
/// assert_eq!(blocked_extension("setup.EXE"), Some("exe"));
/// assert_eq!(blocked_extension("order-confirmation.pdf"), None);
/// assert_eq!(blocked_extension("README"), None);
/// ```
pub fn blocked_extension(file_name: &str) -> Option<&'static str> {
    let (_, extension) = file_name.rsplit_once('.')?;
    let extension = extension.trim().to_ascii_lowercase();
    BLOCKED_EXTENSIONS
        .iter()
        .copied()
        .find(|blocked| *blocked == extension)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_list_is_complete_and_sorted() {
        // security/documents.md lists 53 extensions.
        assert_eq!(BLOCKED_EXTENSIONS.len(), 53);
        assert!(BLOCKED_EXTENSIONS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(blocked_extension("a.tar.ex_"), Some("ex_"));
        assert_eq!(blocked_extension("photo.jpg"), None);
        assert_eq!(blocked_extension("script.Js "), Some("js"));
        assert_eq!(blocked_extension(".bashrc"), None);
    }
}
