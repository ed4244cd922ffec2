// Real storage failures for tests: a small tmpfs that can be filled to ENOSPC, and an ext4 image
// on a loop device that an injected ext4 error turns read-only under open files (errors=remount-ro,
// as an SD card does in the field). Both need root and mount rights; available() says if we have them.
#pragma once

#include <filesystem>
#include <string>

#include "kiosk_test.hpp"

namespace kiosk::test {

// A tmpfs of `size_kb` mounted on a fresh directory; unmounted on destruction.
class SmallDisk {
 public:
  explicit SmallDisk(int size_kb);
  ~SmallDisk();
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  bool available() const { return mounted_; }
  const std::filesystem::path& path() const { return mnt_; }
  // Writes a filler file until the disk is full (ENOSPC); returns the bytes written.
  long fill();
  void free_space();  // deletes the filler

 private:
  TempDir dir_;
  std::filesystem::path mnt_;
  bool mounted_ = false;
};

// An ext4 image (loop device) mounted with errors=remount-ro.
class FlakyCard {
 public:
  explicit FlakyCard(int size_mb);
  ~FlakyCard();
  FlakyCard(const FlakyCard&) = delete;
  FlakyCard& operator=(const FlakyCard&) = delete;

  bool available() const { return mounted_; }
  const std::filesystem::path& path() const { return mnt_; }
  // Injects an ext4 error: the kernel remounts the filesystem read-only at once, open files too.
  bool fail_read_only();
  bool read_only() const;
  // What a technician does: unmount (every user of it must be stopped), fsck, mount again.
  bool repair();

 private:
  bool mount();
  TempDir dir_;
  std::filesystem::path image_;
  std::filesystem::path mnt_;
  std::string device_;  // e.g. loop3
  bool mounted_ = false;
};

// Runs a shell command quietly; true on exit 0.
bool run_quiet(const std::string& command);

}  // namespace kiosk::test
