#include "pool.h"

namespace lh {

Pool::Pool(int threads) {
  for (int t = 1; t < threads; t++) workers_.emplace_back([this, t] { work(t); });
}

Pool::~Pool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void Pool::drain(int thread) {
  for (int item = next_.fetch_add(1); item < items_; item = next_.fetch_add(1)) {
    try {
      (*job_)(item, thread);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void Pool::work(int thread) {
  int seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    drain(thread);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_--;
    }
    done_.notify_one();
  }
}

void Pool::run(int items, bool parallel, const std::function<void(int, int)>& fn) {
  if (!parallel || workers_.empty() || items < 2) {
    for (int item = 0; item < items; item++) fn(item, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    items_ = items;
    next_.store(0);
    error_ = nullptr;
    busy_ = static_cast<int>(workers_.size());
    generation_++;
  }
  wake_.notify_all();
  drain(0);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return busy_ == 0; });
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace lh
