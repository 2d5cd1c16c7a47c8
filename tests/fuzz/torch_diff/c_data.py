C = []


def c(name, code):
    C.append((name, code))


U = "U = M.utils.data if TORCH else M.data\n"
c("dl_bs0", U + "ds = U.TensorDataset(A(4, 2)); U.DataLoader(ds, batch_size=0)")
c("dl_bs_neg", U + "ds = U.TensorDataset(A(4, 2)); U.DataLoader(ds, batch_size=-1)")
c("dl_workers_neg", U + "ds = U.TensorDataset(A(4, 2)); U.DataLoader(ds, num_workers=-1)")
c("dl_bs_none", U + "ds = U.TensorDataset(A(4, 2)); out = [b for b in U.DataLoader(ds, batch_size=None)][0]")
c("dl_empty", U + "ds = U.TensorDataset(A(0, 2)); out = len(list(U.DataLoader(ds, batch_size=2)))")
c(
    "dl_drop_last_all",
    U + "ds = U.TensorDataset(A(3, 2)); out = len(list(U.DataLoader(ds, batch_size=4, drop_last=True)))",
)
c(
    "dl_sampler_and_shuffle",
    U + "ds = U.TensorDataset(A(4, 2)); U.DataLoader(ds, sampler=range(4), shuffle=True)",
)
c(
    "dl_batch_sampler_conflict",
    U + "ds = U.TensorDataset(A(4, 2)); U.DataLoader(ds, batch_sampler=[[0, 1]], batch_size=2)",
)
c("dl_ragged_collate", U + "ds = [A(2), A(3)]; out = next(iter(U.DataLoader(ds, batch_size=2)))")
c(
    "dl_collate_dict",
    U + "ds = [{'a': A(2), 'b': 1}, {'a': A(2), 'b': 2}]; out = next(iter(U.DataLoader(ds, batch_size=2)))",
)
c("dl_collate_none", U + "ds = [None, None]; out = next(iter(U.DataLoader(ds, batch_size=2)))")
c("dl_collate_str", U + "ds = ['a', 'b']; out = next(iter(U.DataLoader(ds, batch_size=2)))")
c("dl_collate_np", U + "ds = [np.ones(2), np.zeros(2)]; out = next(iter(U.DataLoader(ds, batch_size=2)))")
c(
    "random_split_frac",
    U + "ds = U.TensorDataset(A(10, 2)); out = [len(s) for s in U.random_split(ds, [0.3, 0.7])]",
)
c(
    "random_split_frac_bad",
    U + "ds = U.TensorDataset(A(10, 2)); out = [len(s) for s in U.random_split(ds, [0.3, 0.8])]",
)
c("random_split_neg", U + "ds = U.TensorDataset(A(10, 2)); out = U.random_split(ds, [-1, 11])")
c("subset_oob", U + "ds = U.TensorDataset(A(4, 2)); s = U.Subset(ds, [0, 9]); out = s[1]")
c("concat_empty", U + "U.ConcatDataset([])")
c(
    "concat_idx",
    U
    + "ds = U.ConcatDataset([U.TensorDataset(A(2, 2)), U.TensorDataset(A(3, 2))]); out = (len(ds), ds[-1], ds[4])",
)
c("concat_idx_oob", U + "ds = U.ConcatDataset([U.TensorDataset(A(2, 2))]); out = ds[5]")
c("tensordataset_idx_oob", U + "ds = U.TensorDataset(A(2, 2)); out = ds[5]")
c("weighted_sampler_neg", U + "s = U.WeightedRandomSampler([0.1, -1.0], 2); out = list(s)")
c("weighted_sampler_zero", U + "s = U.WeightedRandomSampler([0.0, 0.0], 2); out = list(s)")
c("weighted_sampler_n0", U + "s = U.WeightedRandomSampler([1.0, 1.0], 0)")
c("random_sampler_n_neg", U + "s = U.RandomSampler(range(3), num_samples=-1)")
c("batch_sampler_bs0", U + "s = U.BatchSampler(range(3), 0, False)")
c(
    "batch_sampler_len",
    U + "out = len(U.BatchSampler(range(5), 2, False)), len(U.BatchSampler(range(5), 2, True))",
)
CASES = C
