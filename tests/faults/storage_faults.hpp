// Real storage failures for tests: a small tmpfs that can be filled to ENOSPC, and an ext4 image
// on a loop device that an injected ext4 error turns read-only under open files (errors=remount-ro,
// as an SD card does in the field). Both need root and mount rights; available() says if we have them.
#pragma once

#include <filesystem>
#include <string>

#include "kiosk_test.hpp"

namespace kiosk::test {

// A fresh directory <temp dir>/<name> that a filesystem is mounted on; lazily unmounted on destruction.
class MountPoint {
 public:
  MountPoint(const MountPoint&) = delete;
  MountPoint& operator=(const MountPoint&) = delete;

  bool available() const { return mounted_; }
  const std::filesystem::path& path() const { return mnt_; }

 protected:
  explicit MountPoint(const std::string& name);
  ~MountPoint();

  TempDir dir_;
  std::filesystem::path mnt_;
  bool mounted_ = false;
};

// A tmpfs of `size_kb` mounted on a fresh directory.
class SmallDisk : public MountPoint {
 public:
  explicit SmallDisk(int size_kb);

  // Writes a filler file until the disk is full (ENOSPC); returns the bytes written.
  long fill();
  void free_space();  // deletes the filler
};

// An ext4 image (loop device) mounted with errors=remount-ro.
class FlakyCard : public MountPoint {
 public:
  explicit FlakyCard(int size_mb);

  // Injects an ext4 error: the kernel remounts the filesystem read-only at once, open files too.
  bool fail_read_only();
  bool read_only() const;
  // What a technician does: unmount (every user of it must be stopped), fsck, mount again.
  bool repair();

 private:
  bool mount();
  std::filesystem::path image_;
  std::string device_;  // e.g. loop3
};

// Runs a shell command quietly; true on exit 0.
bool run_quiet(const std::string& command);

}  // namespace kiosk::test
