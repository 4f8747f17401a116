// Threads for one kernel: `threads − 1` workers plus the calling thread run the items of a job,
// each item claimed once from a shared counter. Items write only their own outputs and the kernel
// combines them in a fixed order afterwards, so a result never depends on the number of threads
// or on which thread ran which item. (OpenBLAS's own threads are not used for that reason: how it
// splits a product over threads changes the rounding of some elements.)
#pragma once
#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lh {

class Pool {
 public:
  explicit Pool(int threads);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(item, thread) for every item in [0, items); thread 0 is the caller. With `parallel`
  // false everything runs on the calling thread (work too small to be worth waking the others).
  // The first exception thrown by an item is rethrown here after the job ends.
  void run(int items, bool parallel, const std::function<void(int, int)>& fn);

 private:
  void work(int thread);
  void drain(int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int, int)>* job_ = nullptr;
  int items_ = 0;
  std::atomic<int> next_{0};
  int generation_ = 0;
  int busy_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace lh
