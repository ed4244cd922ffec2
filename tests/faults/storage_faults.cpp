// mount/umount/mkfs through the system tools: the same commands an operator would use.
#include "storage_faults.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <vector>

namespace kiosk::test {

bool run_quiet(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

MountPoint::MountPoint(const std::string& name) : mnt_(dir_.path() / name) { std::filesystem::create_directories(mnt_); }

MountPoint::~MountPoint() {
  if (mounted_) run_quiet("umount -l '" + mnt_.string() + "'");
}

SmallDisk::SmallDisk(int size_kb) : MountPoint("disk") {
  mounted_ = ::geteuid() == 0 &&
             run_quiet("mount -t tmpfs -o size=" + std::to_string(size_kb) + "k tmpfs '" + mnt_.string() + "'");
}

long SmallDisk::fill() {
  int fd = ::open((mnt_ / "filler").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  std::vector<char> block(4096, 'x');
  long total = 0;
  for (;;) {
    auto w = ::write(fd, block.data(), block.size());
    if (w <= 0) break;
    total += w;
  }
  // Single bytes too: the last partial page would otherwise be room for a small write.
  while (::write(fd, block.data(), 1) == 1) ++total;
  ::close(fd);
  return total;
}

void SmallDisk::free_space() { std::filesystem::remove(mnt_ / "filler"); }

FlakyCard::FlakyCard(int size_mb) : MountPoint("card"), image_(dir_.path() / "card.img") {
  if (::geteuid() != 0) return;
  if (!run_quiet("truncate -s " + std::to_string(size_mb) + "M '" + image_.string() + "'")) return;
  if (!run_quiet("mkfs.ext4 -q -F '" + image_.string() + "'")) return;
  mount();
}

bool FlakyCard::mount() {
  mounted_ = run_quiet("mount -o loop,errors=remount-ro '" + image_.string() + "' '" + mnt_.string() + "'");
  if (!mounted_) return false;
  // /dev/loopN -> loopN, the name under /sys/fs/ext4/.
  std::string out = (dir_.path() / "source").string();
  if (std::system(("findmnt -n -o SOURCE '" + mnt_.string() + "' > '" + out + "' 2>/dev/null").c_str()) != 0) return false;
  std::ifstream in(out);
  std::string source;
  std::getline(in, source);
  device_ = std::filesystem::path(source).filename().string();
  return true;
}

bool FlakyCard::fail_read_only() {
  std::ofstream trigger("/sys/fs/ext4/" + device_ + "/trigger_fs_error");
  if (!trigger) return false;
  trigger << "1\n";
  trigger.close();
  return wait_until([&] { return read_only(); }, 5s);
}

bool FlakyCard::read_only() const {
  auto probe = mnt_ / ".probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    ::unlink(probe.c_str());
    return false;
  }
  return errno == EROFS;
}

bool FlakyCard::repair() {
  if (!run_quiet("umount '" + mnt_.string() + "'")) return false;
  mounted_ = false;
  run_quiet("e2fsck -fy '" + image_.string() + "'");  // exit 1 = errors corrected
  return mount();
}

}  // namespace kiosk::test
